from performer.cli import main

raise SystemExit(main())
