#!/bin/bash
# median of 5 wall times per command
PB=${PEBENCH:-pebench}
run() { local ts=(); for i in 1 2 3 4 5; do s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); ts+=($(echo "$e - $s" | bc)); done; printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p | xargs printf "%.2f s  $*\n"; }
run $PB list
run $PB --help
run $PB train --help
run $PB compare --help
run $PB sweep --help
run $PB train --task copy --encoding ropee
run $PB train --task copy --encoding rope --d-model big
run $PB compare --task copy --encodings rope alibii
run $PB train --task copy --encoding rope --task.bogus 2
