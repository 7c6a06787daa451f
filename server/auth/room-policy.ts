/**
 * Which rooms a connection may join: those matching a pattern of its token's
 * `rooms` claim or of its namespace's public rooms, plus its personal room
 * `user:<sub>`. A `*` matches any run of one or more characters.
 * Room names are validated (shared rules) before this runs.
 */
import { personalRoom } from '../../shared/index.js';

const compiledPatterns = new Map<string, RegExp>();

function compile(pattern: string): RegExp {
  let regex = compiledPatterns.get(pattern);
  if (regex === undefined) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.+');
    regex = new RegExp(`^${body}$`);
    // Patterns come from tokens, so bound the cache rather than let it grow with every user.
    if (compiledPatterns.size > 10_000) compiledPatterns.clear();
    compiledPatterns.set(pattern, regex);
  }
  return regex;
}

export function matchesRoomPattern(pattern: string, room: string): boolean {
  return pattern.includes('*') ? compile(pattern).test(room) : pattern === room;
}

export function mayJoinRoom(userId: string, tokenPatterns: readonly string[], publicPatterns: readonly string[], room: string): boolean {
  if (room === personalRoom(userId)) return true;
  return tokenPatterns.some((pattern) => matchesRoomPattern(pattern, room)) || publicPatterns.some((pattern) => matchesRoomPattern(pattern, room));
}
