from lassodrop_local.bench.cli import main

raise SystemExit(main())
