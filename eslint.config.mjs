// ESLint flat config: typescript-eslint's recommended rules on every TypeScript file.
import tseslint from "typescript-eslint";

export default tseslint.config({ ignores: ["node_modules/**", "out/**", "service/node_modules/**", "service/dist/**"] }, ...tseslint.configs.recommended, {
    rules: {
        "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
});
