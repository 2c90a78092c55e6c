#!/bin/bash
# The Spark image's entrypoint: any command runs as given (the compose file starts the master,
# the workers and spark-submit with absolute paths). The official image's Kubernetes modes,
# `driver` and `executor`, are not part of this test image.
set -e
case ${1:-} in
driver | executor)
	echo "entrypoint.sh: '$1' (Kubernetes mode) is not supported by this test image" >&2
	exit 1
	;;
'')
	echo "entrypoint.sh: no command given" >&2
	exit 1
	;;
esac
exec "$@"
