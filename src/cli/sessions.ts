/**
 * `larder sessions count | list --user <id> | revoke --user <id> [--session <key> | --except <key>]`:
 * the configured session engine seen from outside the app — how many sessions exist, one
 * user's devices (the per-user index), and ending them (logout everywhere).
 */
import type { Command } from 'commander';
import type { RedisLocation } from '../config/types.js';
import type { Larder } from '../larder.js';
import { CliError, type GlobalOptions, noRedis, reach } from './context.js';
import { keyspaceSize } from './keys.js';
import { Output } from './output.js';
import { progress } from './progress.js';
import type { Runner } from './run.js';

/** The Redis location the session engine uses, or why the CLI cannot see the sessions. */
function sessionLocation(larder: Larder, command: string): RedisLocation {
  const config = larder.config.sessions;
  switch (config.engine) {
    case 'redis':
      return config.location!;
    case 'cache': {
      const location = larder.config.caches[config.cache!]?.location;
      if (location) return location;
      throw new CliError(
        `${command}: sessions use cache '${config.cache}', which is in the app's process memory; the CLI cannot see them.`,
      );
    }
    case 'memory':
      throw noRedis(command, "sessions are on the 'memory' engine, inside the app's process");
    case 'signed-cookie':
      throw new CliError(
        `${command}: sessions use the 'signed-cookie' engine: each lives in its browser's cookie, so there is nothing on a server to count, list or revoke.`,
      );
  }
}

async function count(larder: Larder, global: GlobalOptions): Promise<number> {
  const location = sessionLocation(larder, 'larder sessions count');
  await reach(larder, location);
  const wantsBar = global.progress ?? process.stderr.isTTY === true;
  const bar = progress({
    enabled: wantsBar,
    label: 'counting sessions',
    total: wantsBar ? await keyspaceSize(larder.connection(location)) : 0,
  });
  let sessions: number;
  try {
    sessions = await larder.sessions.count({ onProgress: (n) => bar.increment(n) });
  } finally {
    bar.stop();
  }
  await new Output(global.json === true).result({ sessions, engine: larder.config.sessions.engine }, () => [
    `${sessions} sessions`,
  ]);
  return 0;
}

async function list(larder: Larder, user: string, global: GlobalOptions): Promise<number> {
  await reach(larder, sessionLocation(larder, 'larder sessions list'));
  const sessions = await larder.sessions.forUser(user).list();
  const out = new Output(global.json === true);
  await out.result(
    sessions.map((s) => ({
      id: s.id,
      created: s.created.toISOString(),
      lastSeen: s.lastSeen.toISOString(),
      userAgent: s.userAgent ?? null,
    })),
    () =>
      sessions.length === 0
        ? [`no sessions for user ${user}`]
        : sessions.map(
            (s) =>
              `${s.id}  created ${s.created.toISOString()}  last seen ${s.lastSeen.toISOString()}  ${s.userAgent ?? '(no user agent)'}`,
          ),
  );
  return 0;
}

interface RevokeOptions {
  user: string;
  session?: string;
  except?: string;
}

async function revoke(larder: Larder, opts: RevokeOptions, global: GlobalOptions): Promise<number> {
  if (opts.session !== undefined && opts.except !== undefined) {
    throw new CliError(
      'larder sessions revoke: give --session (end that one) or --except (end all but that one), not both.',
    );
  }
  await reach(larder, sessionLocation(larder, 'larder sessions revoke'));
  const user = larder.sessions.forUser(opts.user);
  const revoked =
    opts.session !== undefined
      ? Number(await user.revoke(opts.session))
      : await user.revokeAll({ keep: opts.except ?? null });
  await new Output(global.json === true).result({ user: opts.user, revoked }, () => [
    `revoked ${revoked} session${revoked === 1 ? '' : 's'} of user ${opts.user}`,
  ]);
  // Asked to end one session that is not this user's: say so in the exit code.
  return opts.session !== undefined && revoked === 0 ? 1 : 0;
}

/** Registers `larder sessions`. */
export function sessionsCommand(program: Command, run: Runner): void {
  const sessions = program
    .command('sessions')
    .description('count, list and revoke sessions on the configured engine');
  sessions
    .command('count')
    .description('how many sessions the engine holds (SCAN over the session prefix, every Cluster primary)')
    .action((_opts: unknown, cmd: Command) => run(cmd, (larder, global) => count(larder, global)));
  sessions
    .command('list')
    .description("a user's sessions from the per-user index: id, created, last seen, device")
    .requiredOption('--user <id>', 'the user id given to session.login()')
    .action((opts: { user: string }, cmd: Command) =>
      run(cmd, (larder, global) => list(larder, opts.user, global)),
    );
  sessions
    .command('revoke')
    .description("end a user's sessions (all of them, all but one with --except, or one with --session)")
    .requiredOption('--user <id>', 'the user id given to session.login()')
    .option('--session <key>', 'end only this session')
    .option('--except <key>', 'keep this session (e.g. the one the user is on)')
    .action((opts: RevokeOptions, cmd: Command) =>
      run(cmd, (larder, global) => revoke(larder, opts, global)),
    );
}
