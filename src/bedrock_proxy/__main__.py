from bedrock_proxy.cli import main

raise SystemExit(main())
