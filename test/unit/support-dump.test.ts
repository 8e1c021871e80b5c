import { describe, expect, it } from 'vitest';
import { allowEntries, HARMLESS, SECRET_NAME } from '../../src/support/allow-list.js';
import { splitPackages, supportScript } from '../../src/support/dump.js';

describe('support dump allow-list', () => {
  it('lists no option whose name looks like a credential (it would be masked anyway)', () => {
    const listed = Object.values(HARMLESS).flatMap((types) => Object.values(types).flat());
    expect(listed.filter((o) => SECRET_NAME.test(o))).toEqual([]);
  });

  it('catches the credential names met in real configs', () => {
    for (const n of ['password', 'key', 'private_key', 'preshared_key', 'pincode', 'sae_password', 'psk', 'auth_secret', 'api_token', 'PasswordAuth']) {
      expect(SECRET_NAME.test(n), n).toBe(true);
    }
  });

  it('the router-side filter carries every entry and the credential pattern', () => {
    const script = supportScript();
    expect(allowEntries()).toContain('network.interface.proto');
    expect(script).toContain(`SECRET = "${SECRET_NAME.source}"`);
    const list = /split\("([^"]*)", list/.exec(script)?.[1]?.split(' ');
    expect(list).toEqual(allowEntries());
    // doctor sends no raw config: each one goes through the filter (the hash's cat goes to sha256sum)
    expect(script).not.toMatch(/cat \/etc\/config\/\w+ 2>\/dev\/null\n/);
    expect(script).toContain('sec config_network; owrt_redact network');
  });
});

describe('splitPackages', () => {
  it('splits `package <name>` headed text', () => {
    expect(splitPackages("package ddns\nconfig service 'a'\n\toption enabled '1'\n\npackage acme-x\nconfig x\n")).toEqual({
      ddns: "config service 'a'\n\toption enabled '1'",
      'acme-x': 'config x',
    });
    expect(splitPackages('')).toEqual({});
  });
});
