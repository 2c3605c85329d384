#!/bin/sh
# Quick start, step 1: install what is missing, build, run the demo
# (threads moving items through a conc_queue_t, checksum verified).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh build
exec build/examples/producer_consumer --producers 4 --consumers 4 --items 2000000
