/**
 * Renders the texts sent to an approver from the configured templates
 * (config.messages). Placeholders: {code}, {minutes}, {name}. Pure functions.
 */
export interface MessageTemplates {
  smsTemplate: string;
  emailSubject: string;
  emailTemplate: string;
}

export interface MessageValues {
  /** The one-time token. */
  code: string;
  /** How long the token stays valid, in whole minutes (see ttlMinutes). */
  minutes: number;
  /** The approver's display name; an empty string when unknown. */
  name?: string;
}

export interface RenderedEmail {
  subject: string;
  body: string;
}

const PLACEHOLDER = /\{(code|minutes|name)\}/g;
const MAX_NAME_LENGTH = 100;

/**
 * Whole minutes to announce for a TTL, rounded down (never promise more time
 * than the token has) and at least 1.
 */
export function ttlMinutes(ttlSeconds: number): number {
  return Math.max(1, Math.floor(ttlSeconds / 60));
}

/** Names come from outside: keep them to one bounded line, so they cannot restructure the text or a subject. */
function cleanName(name: string | undefined): string {
  return (
    (name ?? '')
      // Control characters are exactly what this removes.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, MAX_NAME_LENGTH)
  );
}

/**
 * Replaces the known placeholders in one pass, so a value containing
 * `{code}` (e.g. a name) is never expanded in turn. Unknown placeholders stay as written.
 */
export function renderTemplate(template: string, values: MessageValues): string {
  const replacements: Record<string, string> = {
    code: values.code,
    minutes: String(values.minutes),
    name: cleanName(values.name),
  };
  return template.replace(PLACEHOLDER, (_match, key: string) => replacements[key]);
}

export function renderSms(templates: Pick<MessageTemplates, 'smsTemplate'>, values: MessageValues): string {
  return renderTemplate(templates.smsTemplate, values);
}

export function renderEmail(templates: Pick<MessageTemplates, 'emailSubject' | 'emailTemplate'>, values: MessageValues): RenderedEmail {
  return {
    subject: renderTemplate(templates.emailSubject, values),
    body: renderTemplate(templates.emailTemplate, values),
  };
}
