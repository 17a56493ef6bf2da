import { BoardCredentials } from './board-credentials';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('BoardCredentials', () => {
  const both = new BoardCredentials({
    adminToken: 'admin-token-0123456789abcdef',
    board: { full: { username: 'ops', password: 'full-pw' }, readOnly: { username: 'viewer', password: 'ro:pw' } },
  });

  it('grants full access to the full user and to the admin bearer token, naming the scheme', () => {
    expect(both.grantFor(basic('ops', 'full-pw'))).toEqual({ access: 'full', scheme: 'basic' });
    expect(both.grantFor('Bearer admin-token-0123456789abcdef')).toEqual({ access: 'full', scheme: 'bearer' });
    expect(both.grantFor('bearer  admin-token-0123456789abcdef')).toEqual({ access: 'full', scheme: 'bearer' });
  });

  it('grants read-only access to the read-only user (a colon in the password included)', () => {
    expect(both.grantFor(basic('viewer', 'ro:pw'))).toEqual({ access: 'read-only', scheme: 'basic' });
  });

  it.each([
    ['nothing', undefined],
    ['an empty header', ''],
    ['a wrong password', basic('ops', 'nope')],
    ["one user's name with the other's password", basic('viewer', 'full-pw')],
    ['an unknown user', basic('someone', 'full-pw')],
    ['no colon', `Basic ${Buffer.from('ops').toString('base64')}`],
    ['an empty user name', basic('', 'full-pw')],
    ['an empty bearer token', 'Bearer '],
    ['a wrong bearer token', 'Bearer admin-token'],
    ['the admin token as a basic password', basic('admin', 'admin-token-0123456789abcdef')],
    ['another scheme', 'Digest username="ops"'],
  ])('grants nothing for %s', (_case, header) => {
    expect(both.grantFor(header)).toBeUndefined();
  });

  it('accepts only the admin token when no dashboard user is configured', () => {
    const none = new BoardCredentials({ adminToken: 'admin-token-0123456789abcdef', board: {} });
    expect(none.grantFor(basic('ops', 'full-pw'))).toBeUndefined();
    expect(none.grantFor('Bearer admin-token-0123456789abcdef')).toEqual({ access: 'full', scheme: 'bearer' });
  });
});
