/** How a token reaches the approver, and how contact data is shown when it must be. */
export const CONTACT_TYPES = ['sms', 'email'] as const;
export type ContactType = (typeof CONTACT_TYPES)[number];

export interface Approver {
  document_number: string;
  name: string;
  phone_number: string;
  email: string;
}

export function destinationOf(approver: Approver, channel: ContactType): string {
  return channel === 'sms' ? approver.phone_number : approver.email;
}

/** `+5511987654321` → `+55*******4321`: enough for support to recognise, not to reach. */
export function maskPhone(phone: string): string {
  if (phone.length <= 7) return '*'.repeat(phone.length);
  return phone.slice(0, 3) + '*'.repeat(phone.length - 7) + phone.slice(-4);
}

/** `maria.silva@example.com` → `m***@e***.com`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '***';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  const host = dot > 0 ? domain.slice(0, dot) : domain;
  const tld = dot > 0 ? domain.slice(dot) : '';
  return `${local[0]}***@${host[0] ?? ''}***${tld}`;
}

export function maskDestination(channel: ContactType, destination: string): string {
  return channel === 'sms' ? maskPhone(destination) : maskEmail(destination);
}

/**
 * Whether an E.164 number (`+5511…`) is in one of the country calling codes
 * SMS may go to (`['55']`): against SMS pumping, where an attacker makes the
 * bank pay for texts to premium numbers abroad. Applied when an account is
 * registered (admin API) and again by the worker before each SMS (ARM_TOKEN in
 * libs/store applies the same prefix rule in Lua, on the stored number).
 */
export function smsDestinationAllowed(phone: string, allowedCountryCodes: readonly string[]): boolean {
  return allowedCountryCodes.some((code) => phone.startsWith(`+${code}`));
}
