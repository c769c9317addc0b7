from camsweep.cli import main

main()
