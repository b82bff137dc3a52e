#!/bin/sh
# Vets and tests the downstream module against this checkout of the library (the replace in
# go.mod points at ..). .ci/run calls it; it needs what the library's own build needs.
set -eu
cd "$(dirname "$0")"
go vet ./...
go test ./...
