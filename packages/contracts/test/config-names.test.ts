import { describe, expect, it } from 'vitest';
import { NoQuery, PollQuery, SseQuery, misspelledConfigNames, unknownQueryParam } from '../src/index.js';

describe('misspelledConfigNames', () => {
  it('names the variable a near miss most likely meant', () => {
    expect(misspelledConfigNames({ HISTROY_SIZE: '3', REDIS_ULR: 'redis://x', log_level: 'debug', HEARTBEAT_M: '5', PROT: '1' })).toEqual([
      { name: 'HISTROY_SIZE', intended: 'HISTORY_SIZE' },
      { name: 'REDIS_ULR', intended: 'REDIS_URL' },
      { name: 'log_level', intended: 'LOG_LEVEL' },
      { name: 'HEARTBEAT_M', intended: 'HEARTBEAT_MS' },
      { name: 'PROT', intended: 'PORT' },
    ]);
  });

  it('leaves relaykit names and the rest of a usual environment alone', () => {
    const env = {
      HISTORY_SIZE: '3', REDIS_URL: 'redis://x', RELAYKIT_WORKER: '1', PATH: '/bin', HOME: '/root', HOSTNAME: 'box', PWD: '/', SHELL: 'sh', SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt', SSL_CERT_DIR: '/etc/ssl/certs',
      TERM: 'xterm', USER: 'u', LANG: 'C', NODE_ENV: 'production', NODE_OPTIONS: '', CI: '1', DENO_DIR: '/d', BUN_INSTALL: '/b', REDIS_HOST: 'r',
      OLDPWD: '/', SHLVL: '1', LOGNAME: 'u', TMPDIR: '/tmp', MY_APP_SETTING: '1', HOST_IP: '1.2.3.4',
    };
    expect(misspelledConfigNames(env)).toEqual([]);
  });
});

describe('query parameter sets', () => {
  it('names the first parameter an endpoint does not take', () => {
    expect(unknownQueryParam(new URLSearchParams('after=a-1&since=a-0&wait=0'), PollQuery)).toBe('since');
    expect(unknownQueryParam(new URLSearchParams('topic=a&topic=b&lastEventId=x&token=t'), SseQuery)).toBeUndefined();
    expect(unknownQueryParam(new URLSearchParams('constructor=1'), NoQuery)).toBe('constructor');
  });
});
