/**
 * Which rooms a connection may join: those matching a pattern of its token's
 * `rooms` claim or of its namespace's public rooms, plus its personal room
 * `user:<sub>`. A `*` matches any run of one or more characters.
 * Room names are validated (shared rules) before this runs.
 *
 * Matching is linear in the lengths of the pattern and the room: the pattern is
 * cut at its stars into literal segments, the first must start the room, the last
 * must end it, and each one between is found (KMP) at its leftmost place after
 * the previous one, each star taking at least one character. Leftmost is always
 * right: it leaves the most room for what follows. A backtracking regex took
 * O(n^stars) here (370 ms for `org:*:*:*:*:end` and a 200-character name, 14 s
 * with one star more), so any holder of a starred grant could stall the node.
 */
import { personalRoom } from '../../shared/index.js';

/** Counts character comparisons, so tests can assert the bound without timing anything. */
interface Steps {
  count: number;
}

export function matchesRoomPattern(pattern: string, room: string): boolean {
  return matchPattern(pattern, room, { count: 0 });
}

/** matchesRoomPattern, with the number of character comparisons it made (at most 3 × (pattern + room) characters). */
export function countedRoomPatternMatch(pattern: string, room: string): { matched: boolean; steps: number } {
  const steps: Steps = { count: 0 };
  const matched = matchPattern(pattern, room, steps);
  return { matched, steps: steps.count };
}

export function mayJoinRoom(userId: string, tokenPatterns: readonly string[], publicPatterns: readonly string[], room: string): boolean {
  if (room === personalRoom(userId)) return true;
  return tokenPatterns.some((pattern) => matchesRoomPattern(pattern, room)) || publicPatterns.some((pattern) => matchesRoomPattern(pattern, room));
}

function matchPattern(pattern: string, room: string, steps: Steps): boolean {
  const segments = pattern.split('*');
  if (segments.length === 1) {
    steps.count += Math.min(pattern.length, room.length);
    return pattern === room;
  }
  const first = segments[0] as string;
  const last = segments[segments.length - 1] as string;
  if (!occursAt(room, first, 0, steps)) return false;
  let position = first.length;
  for (let index = 1; index < segments.length - 1; index += 1) {
    const segment = segments[index] as string;
    position += 1; // the star before this segment takes at least one character
    const found = indexFrom(room, segment, position, steps);
    if (found < 0) return false;
    position = found + segment.length;
  }
  position += 1; // the last star
  const suffixStart = room.length - last.length;
  return suffixStart >= position && occursAt(room, last, suffixStart, steps);
}

function occursAt(text: string, literal: string, at: number, steps: Steps): boolean {
  if (at < 0 || at + literal.length > text.length) return false;
  for (let index = 0; index < literal.length; index += 1) {
    steps.count += 1;
    if (text.charCodeAt(at + index) !== literal.charCodeAt(index)) return false;
  }
  return true;
}

/** Knuth-Morris-Pratt: the first index >= from where `needle` occurs in `text`, or -1; at most 2 × (needle + scanned text) comparisons. */
function indexFrom(text: string, needle: string, from: number, steps: Steps): number {
  if (needle.length === 0) return from <= text.length ? from : -1;
  // border[i]: length of the longest proper prefix of needle[0..i] that is also its suffix.
  const border = new Int32Array(needle.length);
  for (let index = 1, length = 0; index < needle.length; index += 1) {
    while (length > 0 && needle.charCodeAt(index) !== needle.charCodeAt(length)) {
      steps.count += 1;
      length = border[length - 1] as number;
    }
    steps.count += 1;
    if (needle.charCodeAt(index) === needle.charCodeAt(length)) length += 1;
    border[index] = length;
  }
  for (let index = from, matched = 0; index < text.length; index += 1) {
    while (matched > 0 && text.charCodeAt(index) !== needle.charCodeAt(matched)) {
      steps.count += 1;
      matched = border[matched - 1] as number;
    }
    steps.count += 1;
    if (text.charCodeAt(index) === needle.charCodeAt(matched)) matched += 1;
    if (matched === needle.length) return index - needle.length + 1;
  }
  return -1;
}
