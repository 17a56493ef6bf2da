import { parseApprover } from './approver-input';
import { commandLine, shellQuote, UsageError } from './cli-support';
import { fakeApprover, isValidCpf, randomCpf } from './fake-approver';

describe('cli helpers', () => {
  it('parses an approver, keeping commas inside the name', () => {
    expect(parseApprover('52998224725, Silva, Maria ,+5511987654321,maria@example.com')).toEqual({
      document_number: '52998224725',
      name: 'Silva, Maria',
      phone_number: '+5511987654321',
      email: 'maria@example.com',
    });
    expect(() => parseApprover('52998224725,Maria,+5511987654321')).toThrow(UsageError);
  });

  it('generates CPFs with valid check digits and well-formed contacts', () => {
    expect(isValidCpf('52998224725')).toBe(true);
    expect(isValidCpf('52998224726')).toBe(false);
    expect(isValidCpf('11111111111')).toBe(false);
    for (let i = 0; i < 200; i++) expect(isValidCpf(randomCpf())).toBe(true);
    const approver = fakeApprover();
    expect(approver.phone_number).toMatch(/^\+55119\d{8}$/);
    expect(approver.email).toMatch(/@example\.com$/);
  });

  it('quotes arguments for a POSIX shell', () => {
    expect(shellQuote('/account/a-b/device')).toBe('/account/a-b/device');
    expect(shellQuote('{"token":"1"}')).toBe(`'{"token":"1"}'`);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(commandLine(['curl', '-H', 'API-CLIENT-KEY: x'])).toBe(`curl -H 'API-CLIENT-KEY: x'`);
  });
});
