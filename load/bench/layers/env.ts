/** PORT and HOST the benchmark gives a layer server, read through node:process on every runtime. */
import process from 'node:process';

export function parentEnv(): { port: number; host: string } {
  return { port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' };
}
