"""The one place that talks to git: read trees and history, commit, push with retry."""
