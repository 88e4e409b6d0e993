#!/usr/bin/env bash
# Sourced by the README's commands so that no set-up or build step fails in
# silence: each runs under a name, and a failure prints that name, the exit
# status and the step's last lines.
#
#   step NAME CMD...        CMD's output shows as usual and is kept in a log
#   quiet_step NAME CMD...  CMD's output goes only to the log
#
# CMD is a program or script, not a shell function (errexit is off inside).
#
# Logs go to $KG_STEP_LOGS (default /tmp/knockgate-steps), one file a step.

KG_STEP_LOGS=${KG_STEP_LOGS:-/tmp/knockgate-steps}
KG_STEP_TAIL=${KG_STEP_TAIL:-40}

_step_log() { mkdir -p "$KG_STEP_LOGS" && echo "$KG_STEP_LOGS/${1//[^A-Za-z0-9_.-]/_}.log"; }

_step_failed() {
  local name=$1 rc=$2 log=$3
  {
    printf '\n== step "%s" failed (exit %d); its last %d lines (whole log: %s):\n' \
      "$name" "$rc" "$KG_STEP_TAIL" "$log"
    tail -n "$KG_STEP_TAIL" "$log"
    printf '== end of step "%s"\n' "$name"
  } >&2
}

step() {
  local name=$1 log rc=0
  shift
  log=$(_step_log "$name")
  # Options local to this call: CMD's status is read from PIPESTATUS rather
  # than ending the caller's errexit shell before the name is printed.
  local -
  set +e +o pipefail
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if ((rc != 0)); then
    _step_failed "$name" "$rc" "$log"
    return "$rc"
  fi
}

quiet_step() {
  local name=$1 log rc=0
  shift
  log=$(_step_log "$name")
  "$@" >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    _step_failed "$name" "$rc" "$log"
    return "$rc"
  fi
}
