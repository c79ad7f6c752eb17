"""Running the `retlab` command line in-process, as the tests of its behaviour do."""

from retlab import cli


def run(argv, capsys):
    """main(argv) in-process -> (exit code, stdout, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err
