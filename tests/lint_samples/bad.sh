#!/usr/bin/env bash
# Sample for the gate test: unquoted expansions and an unguarded cd must be rejected
target=$1
cd $target
rm -rf $target/*
