import argparse
import sys

from traceway.demo import add_arguments, run

parser = argparse.ArgumentParser(prog="python -m traceway.demo", description="Run the Traceway demo shop.")
add_arguments(parser)
sys.exit(run(parser.parse_args()))
