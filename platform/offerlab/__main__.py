from offerlab.cli import main

main()
