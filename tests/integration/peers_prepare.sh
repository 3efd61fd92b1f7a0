#!/bin/bash
# The CTest fixture every integration test requires: unpack NTPsec's ntpd
# and ntpq and chrony's chronyd from Debian's packages into the build
# folder (peers.sh), once, with the network of the host (the tests
# themselves run in namespaces without one). Never installs them.
NV_TEST_NAME=peers_prepare
. "$(dirname "$0")/lib.sh"
ntpd=$(nv_ntpsec_fetch) || nv_skip "cannot unpack NTPsec (apt-get download ntpsec python3-ntp)"
"$ntpd" --version 2>/dev/null | grep -q ntpsec ||
	nv_skip "the unpacked ntpd does not run: $(ldd "$ntpd" 2>&1 | grep 'not found' | tr '\n' ' ')"
nv_pass "$("$ntpd" --version 2>&1 | head -n1) in $(nv_peer_cache)/ntpsec"
ntpq=$(nv_ntpq_path)
[ -n "$ntpq" ] && "$ntpq" --version >/dev/null 2>&1 || nv_skip "the unpacked ntpq does not run"
nv_pass "ntpq: $("$ntpq" --version 2>&1 | head -n1)"
chronyd=$(nv_peer_fetch chrony usr/sbin/chronyd chrony) || nv_skip "cannot unpack chrony (apt-get download chrony)"
"$chronyd" -v >/dev/null 2>&1 || nv_skip "the unpacked chronyd does not run: $(ldd "$chronyd" 2>&1 | grep 'not found' | tr '\n' ' ')"
nv_pass "$("$chronyd" -v 2>&1 | head -n1) in $(nv_peer_cache)/chrony"
nv_finish
