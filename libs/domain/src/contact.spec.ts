import { maskEmail, maskPhone } from './contact';
import { ERROR_CATALOG, ErrorCodes } from './error-catalog';
import { envelopeFor } from './domain-error';

describe('masking contact data', () => {
  it('keeps country code and last four digits of a phone', () => {
    expect(maskPhone('+5511987654321')).toBe('+55*******4321');
    expect(maskPhone('+5511987654321')).not.toContain('98765');
  });

  it('keeps only first letters and the top-level domain of an e-mail', () => {
    expect(maskEmail('maria.silva@example.com')).toBe('m***@e***.com');
    expect(maskEmail('broken')).toBe('***');
  });
});

describe('error catalog', () => {
  it('builds the contract envelope', () => {
    expect(envelopeFor('OBD000100', { field: 'device_key' })).toEqual({
      title: 'Device not found',
      description: 'No device is associated with the provided device_key.',
      translation: 'Nenhum dispositivo está associado à device_key fornecida.',
      code: 'OBD000100',
      extra_fields: { field: 'device_key' },
    });
  });

  it('has a distinct entry for every alias', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(ERROR_CATALOG[code].translation.length).toBeGreaterThan(0);
  });
});
