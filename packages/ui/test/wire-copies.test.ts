/**
 * The master's page keeps its own list of task states (importing `@stoa/core` into the browser
 * bundle would bring zod and msgpackr along); this keeps the copy in step with the protocol.
 */

import { TaskStateSchema } from '@stoa/core';
import { describe, expect, it } from 'vitest';
import { TASK_STATES } from '../web/src/pages/master/model.js';

describe("the master page's task states", () => {
  it('are every task state the protocol has, and no other', () => {
    expect([...TASK_STATES].sort()).toEqual([...TaskStateSchema.options].sort());
  });
});
