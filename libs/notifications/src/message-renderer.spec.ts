import { randomBytes } from 'node:crypto';
import { loadConfig } from '@lib/config';
import { renderEmail, renderSms, renderTemplate, ttlMinutes } from './message-renderer';

describe('message renderer', () => {
  const messages = loadConfig({ NODE_ENV: 'test', TOKEN_HASH_SECRET: randomBytes(32).toString('hex') }, 'worker').messages;

  it('renders the default Portuguese SMS', () => {
    expect(renderSms(messages, { code: '482913', minutes: 5 })).toBe(
      'Seu código de aprovação de dispositivo é 482913. Ele expira em 5 minutos. Não compartilhe este código.',
    );
  });

  it('renders the default Portuguese e-mail', () => {
    expect(renderEmail(messages, { code: '482913', minutes: 5, name: 'Ana Souza' })).toEqual({
      subject: 'Código de aprovação de dispositivo',
      body: 'Olá, Ana Souza.\n\nSeu código de aprovação de dispositivo é 482913. Ele expira em 5 minutos.\n\nSe você não solicitou este código, ignore esta mensagem.',
    });
  });

  it('replaces every occurrence, including in the subject', () => {
    const templates = { emailSubject: '{code} para {name}', emailTemplate: '{code} {code} {minutes}' };
    expect(renderEmail(templates, { code: '1234', minutes: 3, name: 'Rui' })).toEqual({ subject: '1234 para Rui', body: '1234 1234 3' });
  });

  it('does not expand placeholders found inside values', () => {
    expect(renderTemplate('Olá {name}, código {code}', { code: '999111', minutes: 5, name: '{code} {minutes}' })).toBe('Olá {code} {minutes}, código 999111');
  });

  it('leaves unknown placeholders as written', () => {
    expect(renderTemplate('{code} {other} {Code}', { code: '1', minutes: 1 })).toBe('1 {other} {Code}');
  });

  it('renders a missing name as empty', () => {
    expect(renderTemplate('[{name}]', { code: '1', minutes: 1 })).toBe('[]');
  });

  it('keeps names on one bounded line', () => {
    expect(renderTemplate('[{name}]', { code: '1', minutes: 1, name: ' Ana\r\nBcc: x@y.z\u0000 ' })).toBe('[Ana Bcc: x@y.z]');
    expect(renderTemplate('{name}', { code: '1', minutes: 1, name: 'a'.repeat(500) })).toHaveLength(100);
  });

  it('announces whole minutes, rounded down, at least one', () => {
    expect(ttlMinutes(300)).toBe(5);
    expect(ttlMinutes(330)).toBe(5);
    expect(ttlMinutes(30)).toBe(1);
  });
});
