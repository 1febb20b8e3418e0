#!/usr/bin/env bash
# Writes N fake rows of a source into data/<name>.csv.
set -euo pipefail
name=$1; rows=$2
mkdir -p data
echo "id,value" > "data/$name.csv"
for i in $(seq 1 "$rows"); do echo "$i,$((i * 7 % 13))" >> "data/$name.csv"; done
echo "extracted $rows rows of $name"
