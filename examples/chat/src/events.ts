/** What this app's rooms carry: stored publications and volatile signals. */
export interface ChatEvents {
  /** A user's message, after the backend's moderation (it sets `name` to the signed-in user). */
  chat: { text: string; name: string };
  /** A line from the backend: "alice joined". */
  notice: { text: string };
}

export interface ChatSignals {
  typing: { typing: boolean };
}
