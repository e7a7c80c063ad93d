"""Instructor commands.

    python -m course_lib release OUT                 write the student edition to OUT
    python -m course_lib grade SUBMISSIONS --out DIR  grade a class into DIR/gradebook.csv
"""
import argparse
import sys


def _parser():
    parser = argparse.ArgumentParser(prog="python -m course_lib", description="Instructor tools of the course.")
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="write the student edition (solutions and hidden tests removed)")
    release.add_argument("out", metavar="OUT", help="a new or empty folder for the student edition")
    release.add_argument("--source", metavar="DIR", help="the course checkout to release (default: this one)")

    grade = commands.add_parser("grade", help="grade submitted notebooks with the hidden tests")
    grade.add_argument("submissions", metavar="SUBMISSIONS", help="a folder with one folder or notebook per student")
    grade.add_argument("--out", metavar="DIR", required=True, help="where gradebook.csv and feedback/ go")
    grade.add_argument("--source", metavar="DIR", help="the instructor's course checkout (default: this one)")
    grade.add_argument("--hidden-tests", metavar="FILE", help="default: SOURCE/instructor/hidden_tests.py")
    grade.add_argument("--notebooks", nargs="+", metavar="NB",
                       help="notebooks to grade, by name or number (default: every notebook anyone submitted)")
    grade.add_argument("--workers", type=int, default=2, help="notebooks graded at once (default 2)")
    grade.add_argument("--timeout", type=float, default=120.0, help="seconds per notebook (default 120)")
    grade.add_argument("--exercise-timeout", type=float, default=20.0, help="seconds per exercise (default 20)")
    grade.add_argument("--memory-mb", type=int, default=2048, help="memory limit per notebook (default 2048)")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        from . import grading
    except ImportError:
        sys.exit("The grading tools are for instructors and are not part of the student edition.")
    try:
        if args.command == "release":
            grading.release(args.out, root=args.source)
        else:
            grading.grade(args.submissions, args.out, root=args.source, hidden_tests=args.hidden_tests,
                          notebooks=args.notebooks, workers=args.workers, timeout=args.timeout,
                          exercise_timeout=args.exercise_timeout, memory_mb=args.memory_mb)
    except (grading.ReleaseError, grading.GradingError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
