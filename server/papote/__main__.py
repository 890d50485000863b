from papote.cli import main

raise SystemExit(main())
