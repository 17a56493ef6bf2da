import { provenanceOf, type ProvenanceHeaders } from './same-origin';

describe('provenanceOf', () => {
  const HOST = '127.0.0.1:3000';

  it.each<[string, ProvenanceHeaders, string | undefined]>([
    ["the board's own page (Origin, Sec-Fetch-Site)", { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-origin' }, HOST],
    ['an Origin without Sec-Fetch-Site (older browser)', { origin: 'http://127.0.0.1:3000' }, HOST],
    ['no Origin, a same-origin Referer', { referer: 'http://127.0.0.1:3000/admin/queues/queue/x?status=failed' }, HOST],
    ['an https Origin behind a TLS terminator', { origin: 'https://board.example' }, 'board.example'],
    ['an https Origin, the Host with its default port', { origin: 'https://board.example' }, 'board.example:443'],
    ['an http Origin, the Host with its default port', { origin: 'http://board.example' }, 'board.example:80'],
    ['a host name in another case', { origin: 'http://board.example' }, 'Board.Example'],
    ['an IPv6 host', { origin: 'http://[::1]:3000' }, '[::1]:3000'],
  ])('same-origin: %s', (_case, headers, host) => {
    expect(provenanceOf(headers, host)).toBe('same-origin');
  });

  it.each<[string, ProvenanceHeaders, string | undefined]>([
    ['another site', { origin: 'http://evil.example' }, HOST],
    ['another port of the same host', { origin: 'http://127.0.0.1:3001' }, HOST],
    ['the Host name as a subdomain of another site', { origin: 'http://127.0.0.1.evil.example:3000' }, HOST],
    ['Origin null', { origin: 'null' }, HOST],
    ['an Origin with a path', { origin: 'http://127.0.0.1:3000/x' }, HOST],
    ['a repeated Origin', { origin: 'http://127.0.0.1:3000, http://evil.example' }, HOST],
    ['an Origin of another scheme', { origin: 'file://' }, HOST],
    ['a foreign Origin, whatever the Referer', { origin: 'http://evil.example', referer: 'http://127.0.0.1:3000/admin/queues' }, HOST],
    ['an https Origin on port 80', { origin: 'https://board.example' }, 'board.example:80'],
    ['Sec-Fetch-Site cross-site', { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'cross-site' }, HOST],
    ['Sec-Fetch-Site same-site', { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-site' }, HOST],
    ['Sec-Fetch-Site none (typed in the address bar: never a change)', { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'none' }, HOST],
    ['Sec-Fetch-Site cross-site and nothing else', { 'sec-fetch-site': 'cross-site' }, HOST],
    ['a foreign Referer', { referer: 'http://evil.example/attack.html' }, HOST],
    ['a Referer that is not a URL', { referer: 'nonsense' }, HOST],
    ['a Host with user info', { origin: 'http://127.0.0.1:3000' }, 'evil.example@127.0.0.1:3000'],
    ['a Host with a path', { origin: 'http://127.0.0.1:3000' }, '127.0.0.1:3000/x'],
    ['no Host', { origin: 'http://127.0.0.1:3000' }, undefined],
    ['a header sent as a list', { origin: ['http://127.0.0.1:3000'] }, HOST],
  ])('foreign: %s', (_case, headers, host) => {
    expect(provenanceOf(headers, host)).toBe('foreign');
  });

  it.each<[string, ProvenanceHeaders]>([
    ['neither Origin nor Referer', {}],
    ['Sec-Fetch-Site same-origin alone (any client can send it)', { 'sec-fetch-site': 'same-origin' }],
  ])('unknown: %s', (_case, headers) => {
    expect(provenanceOf(headers, HOST)).toBe('unknown');
  });
});
