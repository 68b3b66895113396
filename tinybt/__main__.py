from tinybt.cli import main

main()
