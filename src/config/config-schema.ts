/**
 * The configuration schema (zod). The file is YAML; see config/default.yaml for every field with comments.
 */
import { z } from 'zod';

/** The validated configuration. */
export const configSchema = z.strictObject({
  bot: z.strictObject({
    userId: z.string().regex(/^\d+$/, 'must be a string of digits (the int64 user id)'),
    displayName: z.string().min(1),
  }),
  listeners: z.string().min(1).default('listeners'),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
});

export type Config = z.infer<typeof configSchema>;
