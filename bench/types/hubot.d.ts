// The part of Hubot 14's API the bench uses (hubot ships JavaScript without type declarations).
declare module 'hubot' {
  import type { EventEmitter } from 'node:events';

  export class User {
    constructor(id: string, options?: Record<string, unknown>);
    readonly id: string;
  }
  export class Message {
    constructor(user: User, done?: boolean);
  }
  export class TextMessage extends Message {
    constructor(user: User, text: string, id: string);
    readonly text: string;
  }
  export type Response = { readonly match: RegExpMatchArray; readonly message: TextMessage };
  export class Adapter extends EventEmitter {
    constructor(robot: Robot);
    send(envelope: unknown, ...strings: string[]): Promise<void>;
    reply(envelope: unknown, ...strings: string[]): Promise<void>;
    run(): Promise<void>;
    close(): void;
  }
  export class Robot {
    constructor(adapter: string | { use(robot: Robot): Adapter }, httpd?: boolean, name?: string, alias?: string | false);
    loadAdapter(path?: string): Promise<void>;
    run(): Promise<void>;
    hear(regex: RegExp, callback: (res: Response) => void): void;
    respond(regex: RegExp, callback: (res: Response) => void): void;
    receive(message: Message): Promise<unknown>;
    shutdown(): void;
  }
}
