/** Writes docs/protocol.md from the protocol's zod schemas. */
import { writeFileSync } from 'node:fs';
import { renderProtocolDoc } from '@stoa/core/internal';

writeFileSync(new URL('../docs/protocol.md', import.meta.url), renderProtocolDoc());
console.log('docs/protocol.md written');
