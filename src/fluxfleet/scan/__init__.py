"""Vulnerability scan results per image: scanner reports read (Trivy, Grype, SARIF, CycloneDX with
VEX), scanners run through adapters, results cached by digest, judged by an environment's policy."""
