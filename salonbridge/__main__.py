from salonbridge.cli import main

main()
