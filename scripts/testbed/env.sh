# Sourced by the test bed scripts: where the private Docker engine lives.
# The same defaults are in tests/conftest.py (keep them in step).
: "${LLAMADASH_TESTBED:=/tmp/llamadash-testbed}"
export LLAMADASH_TESTBED
export DOCKER_HOST="unix://$LLAMADASH_TESTBED/docker.sock"
export LLAMADASH_TEST_IMAGE="${LLAMADASH_TEST_IMAGE:-llamadash/llama-server:local}"
