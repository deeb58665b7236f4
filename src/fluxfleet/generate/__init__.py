"""Fleet -> FilePlan: the Flux repository layout for every cluster, and writing it with ownership rules.

Generated files carry :data:`layout.HEADER` on their first line and belong to fluxfleet: they are
rewritten, and deleted when their cluster or app goes away. Scaffolded files (app bases and
overlays, platform component skeletons) are written once, without the header, and belong to the
user from then on. Knows nothing of rendering or git.
"""
