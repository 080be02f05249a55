#!/usr/bin/env bash
# Build the Lambda images listed in ci/ingestion_jobs.json and push them to their ECR repositories
# (<brand>/<image>, created by the shared/ecr stack). Tags are immutable: an image already pushed with
# the tag is skipped. Needs Docker, the AWS CLI v2 and credentials for the target account.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: [PROFILE=P] [REGION=R] [BRAND=B] scripts/build_push_lambdas.sh [--env ENV] [--job JOB|all] [--tag TAG] [--dry-run]
  --env      environment whose settings name the repositories (default: prod)
  --job      only this job's images (default: all)
  --tag      image tag (default: IMAGE_TAG, else the current git commit)
  --dry-run  print what would be built and pushed, do nothing
Variables (each one set for this command wins over the setting it stands for):
  PROFILE    AWS CLI profile of the target account      (else AWS_PROFILE, else the default credentials)
  REGION     AWS region of the target account           (else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's)
  BRAND      brand of the repositories <brand>/<image>  (else Brand in ci/environments/ENV/settings.json)
USAGE
}

env_name=prod
job=all
tag="${IMAGE_TAG:-}"
dry_run=false
while [ $# -gt 0 ]; do
  case "$1" in
    --env) env_name="$2"; shift 2 ;;
    --job) job="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo_root"
platformctl="${PLATFORMCTL:-$repo_root/.venv/bin/platformctl}"
[ -x "$platformctl" ] || { echo "platformctl not found: run 'make venv' first" >&2; exit 1; }
[ -n "$tag" ] || tag="$(git rev-parse HEAD)"

# PROFILE and REGION are the original README's names for the AWS CLI's own variables: exported as those,
# they reach every aws call below (AWS_REGION outranks AWS_DEFAULT_REGION and the profile's region).
if [ -n "${PROFILE:-}" ]; then export AWS_PROFILE="$PROFILE"; fi
if [ -n "${REGION:-}" ]; then export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"; fi

settings="ci/environments/$env_name/settings.json"
settings_brand=""
if [ -f "$settings" ]; then
  settings_brand="$(python3 -c 'import json,sys; print(next((p["ParameterValue"] for p in json.load(open(sys.argv[1])) if p["ParameterKey"] == "Brand"), ""))' \
    "$settings")"
fi
brand="${BRAND:-$settings_brand}"
[ -n "$brand" ] || { echo "no brand: set Brand in $settings (or BRAND for this command)" >&2; exit 1; }
[[ "$brand" =~ ^[a-z][a-z0-9-]{1,20}$ ]] || { echo "brand '$brand' is not a platform brand (^[a-z][a-z0-9-]{1,20}\$)" >&2; exit 1; }
if [ -n "${BRAND:-}" ] && [ -n "$settings_brand" ] && [ "$BRAND" != "$settings_brand" ]; then
  echo "BRAND=$BRAND overrides Brand '$settings_brand' of $settings: pushing to $BRAND/<image>" >&2
fi
echo "brand $brand, profile ${AWS_PROFILE:-(default credentials)}, region ${AWS_REGION:-${AWS_DEFAULT_REGION:-(from the profile)}}"

images="$("$platformctl" manifest images --job "$job")"
[ -n "$images" ] || { echo "no images for job '$job' in ci/ingestion_jobs.json" >&2; exit 1; }

if [ "$dry_run" = false ]; then
  command -v docker >/dev/null || { echo "docker is required to build images" >&2; exit 1; }
  command -v aws >/dev/null || { echo "the AWS CLI is required to push images" >&2; exit 1; }
fi

logged_in=""
while IFS=$'\t' read -r name folder dockerfile; do
  repository="$brand/$name"
  if [ "$dry_run" = true ]; then
    echo "would build $folder ($dockerfile) as $repository:$tag"
    continue
  fi
  uri="$(aws ecr describe-repositories --repository-names "$repository" --query 'repositories[0].repositoryUri' --output text)"
  registry="${uri%%/*}"
  if [ "$logged_in" != "$registry" ]; then
    aws ecr get-login-password | docker login --username AWS --password-stdin "$registry"
    logged_in="$registry"
  fi
  if aws ecr describe-images --repository-name "$repository" --image-ids "imageTag=$tag" >/dev/null 2>&1; then
    echo "$repository:$tag is already pushed; skipping"
    continue
  fi
  echo "building $repository:$tag from $folder"
  docker build --platform linux/amd64 --provenance=false -f "$dockerfile" -t "$uri:$tag" .
  docker push "$uri:$tag"
done <<< "$images"
