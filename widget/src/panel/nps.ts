// The NPS survey's state in a conversation, from its events (papote/nps.py): pure, unit-tested.
import type { Message } from "../client/frames";

/** The survey of the latest `nps` offer in a conversation that no `nps_answered` followed, if any. */
export function pendingSurvey(messages: readonly Message[]): string | null {
  const answered = new Set<unknown>();
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.event === "nps_answered") answered.add(m.data?.survey);
    if (m.event === "nps") {
      const survey = m.data?.survey;
      return typeof survey === "string" && !answered.has(survey) ? survey : null;
    }
  }
  return null;
}
