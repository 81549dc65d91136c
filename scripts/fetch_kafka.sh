#!/usr/bin/env bash
# Fetches the Apache Kafka broker jars for Lumina's test broker into $LUMINA_HOME/kafka/<version>/.
#
# Usage: scripts/fetch_kafka.sh [LUMINA_HOME]   (default: ${LUMINA_HOME:-$HOME/.lumina})
# Env:   KAFKA_VERSION=4.x.y overrides the version pinned in kafka/pom.xml.
#
# Idempotent: a stamp file holding the version and the pom's checksum marks a finished fetch,
# so a re-run is a no-op until kafka/pom.xml changes. Jars come from Maven Central via `mvn`
# (cached in ~/.m2), and land in libs/ only once all of them are there.
set -euo pipefail

home="${1:-${LUMINA_HOME:-$HOME/.lumina}}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pom="$repo_root/kafka/pom.xml"

skip_msg="skipping Kafka jars: Java 17 and Maven are needed only for the test broker; install openjdk-17-jdk-headless and maven"
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    echo "$skip_msg"
    exit 0
fi
# Kafka 4.x brokers refuse to run on Java < 17; `java -version` prints e.g. 'version "17.0.15"'.
java_major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
if [[ -z "$java_major" || "$java_major" -lt 17 ]]; then
    echo "$skip_msg (found Java ${java_major:-unknown})"
    exit 0
fi

pinned="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n1)"
version="${KAFKA_VERSION:-$pinned}"
if [[ -z "$version" ]]; then
    echo "fetch_kafka.sh: no <kafka.version> in $pom; set KAFKA_VERSION=4.x.y" >&2
    exit 1
fi

dest="$home/kafka/$version"
stamp="$dest/.fetched"
want="kafka $version pom $(sha256sum "$pom" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d "$dest/libs" ]]; then
    echo "Kafka $version jars already in $dest/libs"
    exit 0
fi

mkdir -p "$dest"
rm -f "$stamp"
staging="$(mktemp -d "$dest/libs.partial.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

echo "fetching Apache Kafka $version jars into $dest/libs (Maven Central, cached in ~/.m2)"
# -B and style.color keep CI logs free of progress bars and ANSI codes; output goes to a file
# and is shown only on failure, since -q still prints Maven's download chatter on some setups.
mvn_log="$staging/.mvn.log"
if ! mvn -B -q -Dstyle.color=never -f "$pom" \
        dependency:copy-dependencies \
        -Dkafka.version="$version" \
        -DoutputDirectory="$staging" >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    echo "fetch_kafka.sh: Maven could not resolve Kafka $version; see the output above" >&2
    exit 1
fi
rm -f "$mvn_log"
if [[ ! -f "$staging/kafka_2.13-$version.jar" ]]; then
    echo "fetch_kafka.sh: kafka_2.13-$version.jar missing after the Maven run" >&2
    exit 1
fi

# Swap the finished directory in whole, so a broker never sees half a classpath.
rm -rf "$dest/libs"
mv "$staging" "$dest/libs"
chmod 755 "$dest/libs"
trap - EXIT

echo "$want" >"$stamp"
echo "Kafka $version ready: $(find "$dest/libs" -name '*.jar' | wc -l) jars in $dest/libs"
