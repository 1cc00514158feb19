// The console's browser tests (CTest console_browser, label console):
//
//   node run.mjs [SPEC.mjs...]      default: console.spec.mjs
//
// Needs COOLINGD_TEST_DATABASE_URL (scripts/test.sh), COOLINGD_BIN_DIR and
// COOLINGD_CONSOLE_ARTIFACTS (the screenshots; set by tests/CMakeLists.txt),
// tests/console/node_modules (`npm ci`, scripts/test.sh) and
// /usr/bin/chromium (scripts/deps.sh).
import { after } from 'node:test';
import { stopFixture } from './support.mjs';

const specs = process.argv.slice(2);
after(stopFixture);
for (const spec of specs.length > 0 ? specs : ['console.spec.mjs'])
  await import(new URL(spec, import.meta.url));
