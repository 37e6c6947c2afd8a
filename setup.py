"""The compiled part of the nearby-services index; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "services_nearby._nearby",
            sources=["services_nearby/_nearby.c"],
            # No fused multiply-add: the search and the brute-force scan must give equal bits.
            extra_compile_args=["-O2", "-ffp-contract=off", "-fno-math-errno"],
        )
    ]
)
