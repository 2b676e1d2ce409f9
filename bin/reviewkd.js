#!/usr/bin/env node
'use strict';
// The reviewkd command line; the code is in lib/cli (compiled to dist/cli).
require('../dist/cli/main.js').cli();
