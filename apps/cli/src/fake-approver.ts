/**
 * Fake but well-formed approver data for the demo: a CPF with valid check
 * digits, an E.164 Brazilian mobile number and an example.com address
 * (a domain reserved for documentation, so nothing is ever delivered).
 */
import { randomInt } from 'node:crypto';

export interface FakeApprover {
  document_number: string;
  name: string;
  phone_number: string;
  email: string;
}

function cpfCheckDigit(digits: number[]): number {
  const weightStart = digits.length + 1;
  const sum = digits.reduce((acc, d, i) => acc + d * (weightStart - i), 0);
  const rest = (sum * 10) % 11;
  return rest === 10 ? 0 : rest;
}

export function randomCpf(): string {
  let base: number[];
  do {
    base = Array.from({ length: 9 }, () => randomInt(10));
  } while (base.every((d) => d === base[0])); // 111.111.111-xx and the like are invalid
  const first = cpfCheckDigit(base);
  const second = cpfCheckDigit([...base, first]);
  return [...base, first, second].join('');
}

export function isValidCpf(cpf: string): boolean {
  if (!/^\d{11}$/.test(cpf)) return false;
  const digits = [...cpf].map(Number);
  if (digits.every((d) => d === digits[0])) return false;
  return cpfCheckDigit(digits.slice(0, 9)) === digits[9] && cpfCheckDigit(digits.slice(0, 10)) === digits[10];
}

export function fakeApprover(): FakeApprover {
  const suffix = String(randomInt(100_000_000)).padStart(8, '0');
  return {
    document_number: randomCpf(),
    name: 'Maria Demo da Silva',
    phone_number: `+55119${suffix}`, // São Paulo mobile: +55 11 9XXXX-XXXX
    email: `maria.demo.${suffix}@example.com`,
  };
}
