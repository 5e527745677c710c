#!/bin/sh
# The cheapest trainer honouring the contract (`--config FILE --output-dir DIR`): it trains
# nothing and writes a completed record at once, so a benchmark sees only the runner's cost.
while [ $# -gt 0 ]; do
    case "$1" in
        --output-dir) out="$2"; shift ;;
    esac
    shift
done
printf '{"status": "completed", "epochs": [{"epoch": 1, "val_acc": 90.0}], "final": {"val_acc": 90.0, "val_loss": 0.1, "train_seconds": 0.0}}\n' > "$out/.m.tmp"
mv "$out/.m.tmp" "$out/training_metrics.json"
