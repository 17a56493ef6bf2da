/** `--approver "DOC,NAME,PHONE,EMAIL"` → the admin API's approver object. */
import { UsageError } from './cli-support';

export interface ApproverInput {
  document_number: string;
  name: string;
  phone_number: string;
  email: string;
}

/** The name may itself hold commas: the first field and the last two are fixed. */
export function parseApprover(text: string): ApproverInput {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length < 4) {
    throw new UsageError(`--approver wants "DOC,NAME,PHONE,EMAIL" (got ${JSON.stringify(text)})`);
  }
  const [document_number] = parts;
  const email = parts[parts.length - 1];
  const phone_number = parts[parts.length - 2];
  const name = parts.slice(1, -2).join(', ');
  return { document_number, name, phone_number, email };
}
