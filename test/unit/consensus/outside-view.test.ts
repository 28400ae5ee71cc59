import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { outsideViewFrom } from '../../../src/consensus/outside-view.ts';

const hint = (term: number, leader: string | undefined) => ({ term, voters: ['a', 'b', 'c'], learners: [], ...(leader ? { leader } : {}) });

describe('outside view of the Raft group', () => {
  it('takes the newest term, preferring the leader that vouches for itself', () => {
    const view = outsideViewFrom([
      { nodeName: 'a', status: 'alive', raft: hint(3, 'a') },
      { nodeName: 'b', status: 'alive', raft: hint(4, 'c') },
      { nodeName: 'c', status: 'alive', raft: hint(4, 'c') },
    ]);
    assert.deepEqual(view, { term: 4, leader: 'c', voters: ['a', 'b', 'c'], learners: [] });
  });

  it('ignores dead members and hints without a leader', () => {
    assert.equal(outsideViewFrom([{ nodeName: 'a', status: 'dead', raft: hint(9, 'a') }, { nodeName: 'b', status: 'alive', raft: hint(9, undefined) }]), undefined);
    assert.equal(outsideViewFrom([{ nodeName: 'a', status: 'alive' }]), undefined);
  });
});
