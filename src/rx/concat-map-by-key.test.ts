import fc from 'fast-check';
import { Observable, Subject, concatMap, defer, from, groupBy, map, mergeMap, take, tap, timer } from 'rxjs';
import type { ObservableInput } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { concatMapByKey } from './concat-map-by-key.ts';

// Values are strings like 'x1': the key is the first character.
const keyOf = (value: string): string => value.slice(0, 1);

function createScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

/** A project function that returns the cold Observable registered for each value. */
function projectFrom<R>(inners: Record<string, Observable<R>>): (value: string) => Observable<R> {
  return (value) => {
    const inner = inners[value];
    if (inner === undefined) throw new Error(`no inner for ${value}`);
    return inner;
  };
}

describe('concatMapByKey', () => {
  it('projects the values of one key one after another, in arrival order', () => {
    createScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b----c|', { a: 'x1', b: 'x2', c: 'x3' });
      const x1 = cold('---1|');
      const x2 = cold('-2|');
      const x3 = cold('3|');
      const result = source.pipe(concatMapByKey(keyOf, projectFrom({ x1, x2, x3 })));

      expectObservable(result).toBe('----1-2-3|');
      // x2 arrived at frame 3 but starts only when x1 completes (frame 5); mergeMap would start it at 3.
      expectSubscriptions(x1.subscriptions).toBe('-^---!');
      expectSubscriptions(x2.subscriptions).toBe('-----^-!');
      expectSubscriptions(x3.subscriptions).toBe('--------^!');
    });
  });

  it('runs the values of different keys concurrently', () => {
    createScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b|', { a: 'x1', b: 'y1' });
      const x1 = cold('----1|');
      const y1 = cold('-2|');
      const result = source.pipe(concatMapByKey(keyOf, projectFrom({ x1, y1 })));

      expectObservable(result).toBe('----21|');
      expectSubscriptions(x1.subscriptions).toBe('-^----!');
      expectSubscriptions(y1.subscriptions).toBe('---^-!');
    });
  });

  it('keeps waiting values under the concurrency cap: none dropped, the earliest idle key first', () => {
    createScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      // concurrency 2: x1 and y1 run; x2 waits behind x1 (same key); z1 waits for a slot.
      const source = hot('-a-b-c-d-|', { a: 'x1', b: 'y1', c: 'x2', d: 'z1' });
      const x1 = cold('----------1|');
      const y1 = cold('-----2|');
      const x2 = cold('-3|');
      const z1 = cold('-4|');
      const result = source.pipe(concatMapByKey(keyOf, projectFrom({ x1, x2, y1, z1 }), { concurrency: 2 }));

      expectObservable(result).toBe('--------2-41-3|');
      expectSubscriptions(x1.subscriptions).toBe('-^----------!');
      expectSubscriptions(y1.subscriptions).toBe('---^-----!');
      // y1's slot goes to z1 (x2 arrived first, but its key is busy); x2 starts when x1 is done.
      expectSubscriptions(z1.subscriptions).toBe('---------^-!');
      expectSubscriptions(x2.subscriptions).toBe('------------^-!');
    });
  });

  it('starts waiting values of idle keys in arrival order as slots free up', () => {
    createScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      // concurrency 1: y1 and x2 both wait for x1; y1 arrived first, so it goes first.
      const source = hot('-abc|', { a: 'x1', b: 'y1', c: 'x2' });
      const x1 = cold('---1|');
      const y1 = cold('-2|');
      const x2 = cold('-3|');
      const result = source.pipe(concatMapByKey(keyOf, projectFrom({ x1, x2, y1 }), { concurrency: 1 }));

      expectObservable(result).toBe('----1-2-3|');
      expectSubscriptions(x1.subscriptions).toBe('-^---!');
      expectSubscriptions(y1.subscriptions).toBe('-----^-!');
      expectSubscriptions(x2.subscriptions).toBe('-------^-!');
    });
  });

  it('completes only after the source and every inner, running or waiting, completed', () => {
    createScheduler().run(({ hot, cold, expectObservable }) => {
      const source = hot('-ab|', { a: 'x1', b: 'x2' });
      const x1 = cold('---1|');
      const x2 = cold('---2|');
      const result = source.pipe(concatMapByKey(keyOf, projectFrom({ x1, x2 })));

      expectObservable(result).toBe('----1---2|');
    });
  });

  it('completes at once for an empty source', () => {
    createScheduler().run(({ cold, expectObservable }) => {
      const result = cold<string>('|').pipe(concatMapByKey(keyOf, projectFrom<string>({})));
      expectObservable(result).toBe('|');
    });
  });

  it('errors when an inner errors, and unsubscribes the other inners and the source', () => {
    createScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c--|', { a: 'x1', b: 'y1', c: 'x2' });
      const x1 = cold('-------1|');
      const y1 = cold('--#', undefined, new Error('boom'));
      const x2 = cold('1|');
      const result = source.pipe(concatMapByKey(keyOf, projectFrom({ x1, x2, y1 })));

      expectObservable(result).toBe('-----#', undefined, new Error('boom'));
      expectSubscriptions(source.subscriptions).toBe('^----!');
      expectSubscriptions(x1.subscriptions).toBe('-^---!');
      expectSubscriptions(x2.subscriptions).toBe([]);
    });
  });

  it('errors when the source errors, and unsubscribes the running inners', () => {
    createScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('-a--#', { a: 'x1' }, new Error('feed down'));
      const x1 = cold('-----1|');
      const result = source.pipe(concatMapByKey(keyOf, projectFrom({ x1 })));

      expectObservable(result).toBe('----#', undefined, new Error('feed down'));
      expectSubscriptions(x1.subscriptions).toBe('-^--!');
    });
  });

  it('errors when keyOf or project throws', () => {
    createScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-a-b|', { a: 'x1', b: 'y1' });
      const badKey = source.pipe(
        concatMapByKey(
          (value: string) => {
            if (value === 'y1') throw new Error('no key');
            return keyOf(value);
          },
          () => timer(10),
        ),
      );
      const badProject = source.pipe(
        concatMapByKey(keyOf, (value): ObservableInput<number> => {
          if (value === 'y1') throw new Error('no project');
          return timer(10);
        }),
      );
      expectObservable(badKey).toBe('---#', undefined, new Error('no key'));
      expectObservable(badProject).toBe('---#', undefined, new Error('no project'));
    });
  });

  it('tears down every running inner on unsubscription and never starts the waiting ones', () => {
    createScheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c---|', { a: 'x1', b: 'y1', c: 'x2' });
      const x1 = cold('--------1|');
      const y1 = cold('--------2|');
      const x2 = cold('3|');
      const result = source.pipe(concatMapByKey(keyOf, projectFrom({ x1, x2, y1 })));

      expectObservable(result, '^------!').toBe('--------');
      expectSubscriptions(source.subscriptions).toBe('^------!');
      expectSubscriptions(x1.subscriptions).toBe('-^-----!');
      expectSubscriptions(y1.subscriptions).toBe('---^---!');
      expectSubscriptions(x2.subscriptions).toBe([]);
    });
  });

  it('stops a synchronous inner when the output is closed while it emits, and starts nothing after', () => {
    let emitted = 0;
    const projected: string[] = [];
    const endless = new Observable<number>((subscriber) => {
      // Bounded so that a regression fails the assertion below instead of hanging the test run.
      while (!subscriber.closed && emitted < 1_000) subscriber.next((emitted += 1));
      subscriber.complete();
    });
    const results: number[] = [];
    from(['x1', 'x2', 'y1'])
      .pipe(
        concatMapByKey(keyOf, (value) => {
          projected.push(value);
          return endless;
        }),
        take(3),
      )
      .subscribe((value) => results.push(value));

    expect(results).toEqual([1, 2, 3]);
    // The closed output is noticed on the next value: one more is pulled, then the inner stops.
    expect(emitted).toBe(4);
    expect(projected).toEqual(['x1']);
  });

  it('runs a long queue of synchronous inners without growing the stack', () => {
    // x0 holds its key until `gate` completes; meanwhile 50_000 values queue up behind it, and then run as
    // synchronous inners one after another.
    const gate = new Subject<string>();
    const values = Array.from({ length: 50_000 }, (_, i) => `x${i}`);
    const results: string[] = [];
    from(values)
      .pipe(concatMapByKey(keyOf, (value) => (value === 'x0' ? gate : [value])))
      .subscribe((value) => results.push(value));
    expect(results).toEqual([]);
    gate.complete();
    expect(results).toEqual(values.slice(1));
  });

  it('rejects a concurrency that is not a positive integer or Infinity', () => {
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      expect(() => concatMapByKey(keyOf, () => [1], { concurrency })).toThrow(RangeError);
    }
    expect(() => concatMapByKey(keyOf, () => [1], { concurrency: Infinity })).not.toThrow();
  });

  describe('regression: why this operator exists (STYLE.md "RxJS", two traps in rxjs 7.8)', () => {
    it('groupBy + mergeMap(concurrency) drops the values of groups waiting for a slot; this operator does not', () => {
      createScheduler().run(({ hot, cold, expectObservable }) => {
        const source = hot('-a-b-c-d-|', { a: 'x1', b: 'y1', c: 'y2', d: 'x2' });
        const inners = { x1: cold('-1|'), x2: cold('-4|'), y1: cold('-2|'), y2: cold('-3|') };
        const project = projectFrom(inners);

        // The trap: group y waits in mergeMap's buffer (the cap is taken by group x, which stays open until
        // the source completes). A GroupedObservable is hot, so y1 and y2, pushed before mergeMap subscribes
        // to group y, are lost.
        const trap = source.pipe(
          groupBy(keyOf),
          mergeMap((group) => group.pipe(concatMap(project)), 1),
        );
        expectObservable(trap).toBe('--1-----4|');

        const operator = source.pipe(concatMapByKey(keyOf, project, { concurrency: 1 }));
        expectObservable(operator).toBe('--1-2-3-4|');
      });
    });

    it('groupBy with an expiring duration lets a key overtake itself; this operator keeps order', () => {
      createScheduler().run(({ hot, cold, expectObservable }) => {
        const source = hot('-a--b|', { a: 'x1', b: 'x2' });
        const inners = { x1: cold('-----1|'), x2: cold('-2|') };
        const project = projectFrom(inners);

        // The trap: group x expires 2 frames after it opened, while x1 still runs; x2 opens a new group x
        // whose concatMap does not know about x1, so x2 finishes first.
        const trap = source.pipe(
          groupBy(keyOf, { duration: () => timer(2) }),
          mergeMap((group) => group.pipe(concatMap(project))),
        );
        expectObservable(trap).toBe('-----21|');

        const operator = source.pipe(concatMapByKey(keyOf, project));
        expectObservable(operator).toBe('------1-2|');
      });
    });
  });

  it('keeps a key in order when its next value arrives from inside an array inner', () => {
    const source = new Subject<string>();
    const results: string[] = [];
    source
      .pipe(
        concatMapByKey(keyOf, (value) => {
          // x1's projection pushes x2 (same key) and y1 before x1's own result is out.
          if (value === 'x1') {
            source.next('x2');
            source.next('y1');
          }
          return [value];
        }),
      )
      .subscribe((value) => results.push(value));
    source.next('x1');
    expect(results).toEqual(['x1', 'x2', 'y1']);
  });

  it('property: per key, outputs follow input order; nothing is lost; caps hold', () => {
    const item = fc.record({
      key: fc.constantFrom('a', 'b', 'c', 'd'),
      gapMs: fc.nat({ max: 3 }),
      durationMs: fc.nat({ max: 6 }),
      // An array inner: emits and completes within the projection (the operator's synchronous path).
      asArray: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 40 }),
        fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
        (items, concurrency) => {
          const inputs = items.map((value, index) => ({ ...value, index }));
          const outputs: typeof inputs = [];
          const runningByKey = new Map<string, number>();
          let running = 0;
          let maxRunning = 0;
          let maxRunningPerKey = 0;
          let completed = false;

          createScheduler().run(() => {
            const source$ = from(inputs).pipe(concatMap((value) => timer(value.gapMs).pipe(map(() => value))));
            const project = (value: (typeof inputs)[number]): ObservableInput<typeof value> => {
              if (value.asArray) {
                maxRunning = Math.max(maxRunning, running + 1);
                maxRunningPerKey = Math.max(maxRunningPerKey, (runningByKey.get(value.key) ?? 0) + 1);
                return [value];
              }
              return defer(() => {
                running += 1;
                const perKey = (runningByKey.get(value.key) ?? 0) + 1;
                runningByKey.set(value.key, perKey);
                maxRunning = Math.max(maxRunning, running);
                maxRunningPerKey = Math.max(maxRunningPerKey, perKey);
                // Counted down on the inner's completion, before the operator hears of it (finalize would
                // run only after the operator started the next inner).
                return timer(value.durationMs).pipe(
                  map(() => value),
                  tap({
                    complete: () => {
                      running -= 1;
                      runningByKey.set(value.key, (runningByKey.get(value.key) ?? 1) - 1);
                    },
                  }),
                );
              });
            };
            const options = concurrency === undefined ? {} : { concurrency };
            source$.pipe(concatMapByKey((value) => value.key, project, options)).subscribe({
              next: (value) => outputs.push(value),
              complete: () => {
                completed = true;
              },
            });
          });

          expect(completed).toBe(true);
          expect(outputs).toHaveLength(inputs.length);
          for (const key of ['a', 'b', 'c', 'd']) {
            const expected = inputs.filter((value) => value.key === key).map((value) => value.index);
            const actual = outputs.filter((value) => value.key === key).map((value) => value.index);
            expect(actual).toEqual(expected);
          }
          expect(maxRunningPerKey).toBeLessThanOrEqual(1);
          expect(maxRunning).toBeLessThanOrEqual(concurrency ?? Infinity);
        },
      ),
      { numRuns: 300 },
    );
  });
});
