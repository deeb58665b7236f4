"""CheckSetup: the one way a run's checks are set up, used by ``check``, ``diff`` and every
promote gate, so a gate applies exactly the policies ``fluxfleet check`` applies."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fluxfleet import yamlio
from fluxfleet.check.config import validate_rule_ids
from fluxfleet.check.context import LATEST_FLUX, CheckOptions, SopsVerify
from fluxfleet.check.model import Severity
from fluxfleet.check.registry import all_rules
from fluxfleet.errors import FleetError
from fluxfleet.fleet.policy import (
    POLICY_FILE,
    PolicyConfig,
    flux_version_error,
    load_policy_file,
    parse_policy,
)
from fluxfleet.usecases.workspace import Workspace

if TYPE_CHECKING:
    from fluxfleet.check.rego import RegoPolicies
    from fluxfleet.check.schemas import SchemaStore


@dataclass(frozen=True)
class CheckSettings:
    """What a caller may override of the policy in fleet.yaml (the CLI's flags)."""

    kubernetes_version: str | None = None
    flux_version: str | None = None
    fail_on: str | None = None
    policy_dirs: tuple[str, ...] = ()
    sops_key_files: tuple[Path, ...] | None = None  # None: SOPS_AGE_KEY_FILE, as sops takes it


@dataclass
class CheckSetup:
    policy: PolicyConfig
    kubernetes_version: str | None
    flux_version: str
    threshold: Severity
    rego: RegoPolicies | None = None
    environment: dict[str, str] = field(default_factory=dict)
    tenant_namespaces: frozenset[str] = frozenset()
    age_recipients: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sops_key_files: tuple[Path, ...] = ()
    _schemas: SchemaStore | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def for_workspace(cls, ws: Workspace, settings: CheckSettings = CheckSettings()) -> CheckSetup:
        """Policy, Rego/Gatekeeper policies and fleet facts of ``ws`` (its fleet, loaded once)."""
        if settings.flux_version and (err := flux_version_error(settings.flux_version)):
            raise FleetError(err, field="--flux-version", hint="pass a Flux minor version such as 2.9")
        fleet = ws.fleet_or_none()
        if fleet is not None:
            # Unknown rule ids are reported here, where fleet.yaml's lines are known.
            validate_rule_ids(
                fleet.policy,
                all_rules(),
                locate=lambda rid, message, hint: fleet.error_at(
                    ("spec", "policy", "rules", rid), message, hint
                ),
            )
            policy = fleet.policy
        else:
            policy = _policy_file(ws) or PolicyConfig()
        if settings.flux_version:
            policy = policy.model_copy(update={"flux_version": settings.flux_version})
        keys = settings.sops_key_files
        if keys is None:
            env_key = os.environ.get("SOPS_AGE_KEY_FILE")
            keys = (Path(env_key),) if env_key else ()
        return cls(
            policy=policy,
            kubernetes_version=settings.kubernetes_version or policy.kubernetes_version,
            flux_version=settings.flux_version or policy.flux_version or LATEST_FLUX,
            threshold=Severity(settings.fail_on or policy.fail_on),
            rego=_load_rego(ws, tuple(dict.fromkeys((*policy.rego, *settings.policy_dirs))), policy),
            environment={c.name: c.environment for c in fleet.clusters} if fleet else {},
            tenant_namespaces=frozenset(t.name for t in fleet.teams) if fleet else frozenset(),
            age_recipients=dict(fleet.secrets.age_recipients) if fleet else {},
            sops_key_files=keys,
        )

    def options(self, ws: Workspace) -> CheckOptions:
        """Options for checking a render of ``ws``: paths and secrets are read from that revision."""
        from fluxfleet.check.schemas import SchemaStore

        if self._schemas is None:  # compiled validators, shared by every revision this setup checks
            self._schemas = SchemaStore(self.kubernetes_version)
        return CheckOptions(
            policy=self.policy,
            kubernetes_version=self.kubernetes_version,
            flux_version=self.flux_version,
            path_exists=ws.path_exists,
            schemas=self._schemas,
            rego=self.rego,
            environment=dict(self.environment),
            tenant_namespaces=self.tenant_namespaces,
            repo=ws.root,
            age_recipients=dict(self.age_recipients),
            sops_verify=sops_verifier(self.sops_key_files),
            tree=ws.tree,
        )


def _policy_file(ws: Workspace) -> PolicyConfig | None:
    """``.fluxfleet/policy.yaml`` of a repository without fleet.yaml, read from the revision."""
    if ws.on_disk:
        return load_policy_file(ws.root)
    if not ws.tree.is_file(POLICY_FILE):
        return None
    docs = yamlio.load_all(ws.read_text(POLICY_FILE), POLICY_FILE)
    if len(docs) > 1:
        raise FleetError("expected one YAML document", file=POLICY_FILE)
    return parse_policy(docs[0] if docs else None, POLICY_FILE)


def sops_verifier(key_files: tuple[Path, ...]) -> SopsVerify | None:
    """The sops adapter of the ``sops-mac`` rule: real sops with the run's key files (None: no keys)."""
    if not key_files:
        return None

    def verify(rel: str, data: bytes) -> str | None:
        from fluxfleet.secrets.ops import sops_with_keys
        from fluxfleet.secrets.sops import file_type_of

        try:
            with sops_with_keys(list(key_files)) as sops:
                plaintext = sops.decrypt_data(data, display=rel, file_type=file_type_of(rel))
                del plaintext  # verified; the values are not kept
        except FleetError as exc:
            return exc.message
        return None

    return verify


def _load_rego(ws: Workspace, folders: tuple[str, ...], policy: PolicyConfig) -> RegoPolicies | None:
    from fluxfleet.check.rego import RegoPolicies, load_conftest, load_gatekeeper

    if not folders and not policy.gatekeeper:
        return None
    if ws.on_disk:
        conftest = load_conftest(ws.root, folders)
        gatekeeper = load_gatekeeper(ws.root, policy.gatekeeper)
    else:
        # The policy folders of a revision held in memory, laid out in a private folder for the
        # loaders (they name files repository-relative, so messages are the same).
        with tempfile.TemporaryDirectory(prefix="fluxfleet-policy-") as tmp:
            root = Path(tmp)
            for rel in folders + policy.gatekeeper:
                key = rel.removeprefix("./").strip("/")
                if not ws.tree.is_dir(key):
                    continue  # the loaders report the missing folder
                (root / key).mkdir(parents=True, exist_ok=True)
                for path in ws.tree.walk_files(key):
                    target = root / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(ws.tree.read(path)[0])
            conftest = load_conftest(root, folders)
            gatekeeper = load_gatekeeper(root, policy.gatekeeper)
    return RegoPolicies(conftest, gatekeeper) if conftest or gatekeeper else None
